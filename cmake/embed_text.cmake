# Writes OUT, a .cpp defining `std::string_view FUNCTION()` in namespace wslat that returns the
# bytes of IN, so that a data file (schema/scenario.schema.json) is compiled into the binary from
# the same file that is installed. Inputs: IN, OUT, FUNCTION.
file(READ ${IN} content)
set(delimiter wslat_embed)
string(FIND "${content}" ")${delimiter}\"" clash)
if(NOT clash EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter )${delimiter}\"")
endif()
file(RELATIVE_PATH name ${CMAKE_CURRENT_LIST_DIR}/.. ${IN})
file(WRITE ${OUT}.tmp "// Generated from ${name} by cmake/embed_text.cmake: do not edit.
#include <string_view>

namespace wslat {

std::string_view ${FUNCTION}() {
  return R\"${delimiter}(${content})${delimiter}\";
}

}  // namespace wslat
")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
