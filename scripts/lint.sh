#!/usr/bin/env bash
# Holds the house style: clang-format (.clang-format) on every C++ file of lib/ cli/ tests/
# bench/ fuzz/, and clang-tidy (.clang-tidy) on lib/ and cli/ with the compile commands of a
# build directory. Exits 1 on any deviation or finding, printing each one.
#
# Usage: scripts/lint.sh [--format-only | --tidy-only] [--fix-format] [BUILD_DIR]
#   BUILD_DIR (default: build) is configured when it has no compile_commands.json yet
#   (configure only: clang-tidy needs the compile commands, not the binaries).
#   --fix-format rewrites the files instead of checking them.
# Environment: CLANG_FORMAT, CLANG_TIDY (default: clang-format, clang-tidy; Debian 12 ships 14),
#   LINT_JOBS (parallel clang-tidy processes, default: nproc), LINT_ANALYZER (the static
#   analyzer's mode: shallow by default, deep for its interprocedural analysis; see below).
set -euo pipefail
cd "$(dirname "$0")/.."

format=1 tidy=1 fix=0 dir=build
for arg in "$@"; do
  case "$arg" in
    --format-only) tidy=0 ;;
    --tidy-only) format=0 ;;
    --fix-format) fix=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    -*) echo "lint.sh: unknown option $arg (see --help)" >&2; exit 64 ;;
    *) dir=$arg ;;
  esac
done
clang_format=${CLANG_FORMAT:-clang-format}
clang_tidy=${CLANG_TIDY:-clang-tidy}
jobs=${LINT_JOBS:-$(nproc)}
status=0

if [[ $format == 1 ]]; then
  command -v "$clang_format" >/dev/null || { echo "lint.sh: $clang_format not found (scripts/install-deps.sh)" >&2; exit 3; }
  # Tracked files and new ones not yet added (not ignored): a new file is checked before its
  # first commit, not only in the fresh clone CI makes of it.
  mapfile -t sources < <(git ls-files --cached --others --exclude-standard -- \
    'lib/*.cpp' 'lib/*.hpp' 'cli/*.cpp' 'cli/*.hpp' \
    'tests/*.cpp' 'tests/*.hpp' 'bench/*.cpp' 'bench/*.hpp' 'fuzz/*.cpp' 'fuzz/*.hpp')
  if [[ $fix == 1 ]]; then
    "$clang_format" -i "${sources[@]}"
    echo "clang-format: rewrote ${#sources[@]} files in place"
  else
    deviating=0
    for f in "${sources[@]}"; do
      if ! "$clang_format" --dry-run -Werror "$f" 2>/dev/null; then
        deviating=$((deviating + 1))
        echo "clang-format: $f deviates from .clang-format"
      fi
    done
    if ((deviating > 0)); then
      echo "clang-format: $deviating of ${#sources[@]} files deviate; see them with" \
        "'$clang_format --dry-run FILE', fix them with 'scripts/lint.sh --format-only --fix-format'"
      status=1
    else
      echo "clang-format: ${#sources[@]} files follow .clang-format"
    fi
  fi
fi

if [[ $tidy == 1 ]]; then
  command -v "$clang_tidy" >/dev/null || { echo "lint.sh: $clang_tidy not found (scripts/install-deps.sh)" >&2; exit 3; }
  # Configure only: no source of lib/ or cli/ includes a generated file (the version is a -D),
  # so clang-tidy needs the compile commands and nothing built.
  if [[ ! -f $dir/compile_commands.json ]]; then
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
  mapfile -t units < <(git ls-files -- 'lib/*.cpp' 'cli/*.cpp')
  # The static analyzer's checks (clang-analyzer-*) in shallow mode: each function analysed on
  # its own, few calls inlined. Deep mode (clang's default) follows calls into nlohmann::json's
  # and websocketpp's templates and took two thirds of the stage (lib/result.cpp: 37 s deep,
  # 17 s shallow, 12 s without the analyzer), and in this project's history every finding came
  # from the other checks. LINT_ANALYZER=deep runs it in depth.
  analyzer=${LINT_ANALYZER:-shallow}
  [[ $analyzer == shallow || $analyzer == deep ]] ||
    { echo "lint.sh: LINT_ANALYZER=$analyzer: expected shallow or deep" >&2; exit 64; }
  logs=$(mktemp -d)
  trap 'rm -rf "$logs"' EXIT
  # A profile-guided build's commands (scripts/build.sh) carry g++'s -fprofile-* options, which
  # clang does not take, and the g++ warnings CMakeLists.txt turns off with them, some unknown
  # to clang: clang-tidy reads a copy without the former, told to ignore the latter.
  if grep -q -- '-fprofile-use' "$dir/compile_commands.json"; then
    mkdir "$logs/db"
    sed -E 's/ -fprofile-use=[^ "]*/ -Wno-unknown-warning-option/g; s/ -fprofile-[^ "]*//g' \
      "$dir/compile_commands.json" >"$logs/db/compile_commands.json"
    dir=$logs/db
  fi
  # One log per translation unit, so that parallel runs do not interleave their output. A unit
  # on which clang-tidy fails without a finding (a crash, say) is named in $logs/failed.
  printf '%s\n' "${units[@]}" | xargs -P "$jobs" -I{} sh -c \
    '"$1" -p "$2" --quiet --extra-arg=-Xclang --extra-arg=-analyzer-config --extra-arg=-Xclang \
      --extra-arg="mode=$5" "$3" >"$4/$(echo "$3" | tr / _).log" 2>&1 || echo "$3" >>"$4/failed"' \
    _ "$clang_tidy" "$dir" {} "$logs" "$analyzer"
  # A header's finding shows once per unit that includes it: each is listed and counted once.
  findings=$(cat "$logs"/*.log | grep -E '^[^ ].*:[0-9]+:[0-9]+: (warning|error): ' | sort -u || true)
  if [[ -n $findings ]]; then
    cat "$logs"/*.log | grep -vE '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' || true
    echo "clang-tidy: $(wc -l <<<"$findings") findings in ${#units[@]} units, by check:"
    grep -oE '\[[A-Za-z0-9.,-]+\]$' <<<"$findings" | sort | uniq -c | sort -rn
    status=1
  elif [[ -s $logs/failed ]]; then
    cat "$logs"/*.log
    echo "clang-tidy: failed without a finding on: $(tr '\n' ' ' <"$logs/failed")"
    status=1
  else
    echo "clang-tidy: no findings in ${#units[@]} units of lib/ and cli/"
  fi
fi
exit $status
