# Writes OUT (a tiny .cpp) with the commit the tree is at and the build type. Run by the
# wslat_build_info target at every build; configure_file leaves OUT untouched when nothing
# changed, so a new commit recompiles this one file only. Outside a git work tree (a source
# tarball) the commit is "unknown".
# Inputs: SOURCE_DIR, OUT, TEMPLATE, BUILD_TYPE, SANITIZE.
set(WSLAT_COMMIT unknown)
find_program(GIT_EXECUTABLE git)
if(GIT_EXECUTABLE)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} rev-parse --short=12 HEAD
                  OUTPUT_VARIABLE _commit RESULT_VARIABLE _rc ERROR_QUIET
                  OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(_rc EQUAL 0 AND _commit)
    set(WSLAT_COMMIT ${_commit})
    # Tracked files changed (untracked ones, e.g. a build folder, do not count).
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} status --porcelain
                            --untracked-files=no
                    OUTPUT_VARIABLE _changes RESULT_VARIABLE _rc ERROR_QUIET)
    if(NOT _rc EQUAL 0 OR _changes)
      string(APPEND WSLAT_COMMIT -dirty)
    endif()
  endif()
endif()
set(WSLAT_BUILD ${BUILD_TYPE})
if(SANITIZE)
  string(APPEND WSLAT_BUILD "+sanitize=${SANITIZE}")
endif()
configure_file(${TEMPLATE} ${OUT} @ONLY)
