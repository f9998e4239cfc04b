#!/usr/bin/env bash
# The completion scripts `wslat completions SHELL` generates offer what the tool accepts:
# every subcommand and option of --help, the names its own error messages list for --env,
# --format and --mode, and scenario files (*.json) where a scenario goes.
# Usage: check_completions.sh WSLAT bash|zsh|fish
# Exits 77 (ctest: skipped) when the shell is not installed (scripts/install-deps.sh installs it).
set -euo pipefail
wslat=$1 shell=$2
command -v "$shell" >/dev/null || { echo "SKIP: $shell is not installed (scripts/install-deps.sh)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/cwd" && cd "$work/cwd"  # the files to complete, and nothing else
mkdir sub && touch b.txt sub/c.json
echo '{"name": "a", "steps": [{"connect": {}}]}' >a.json
"$wslat" completions "$shell" >"$work/script"

fail=0
# expect WHAT GOT WANT: space-separated lists compared as sets.
expect() {
  local got want
  got=$(tr ' ' '\n' <<<"$2" | sed '/^$/d' | sort -u | tr '\n' ' ')
  want=$(tr ' ' '\n' <<<"$3" | sed '/^$/d' | sort -u | tr '\n' ' ')
  if [[ $got == "$want" ]]; then echo "ok: $1"; else echo "FAIL: $1: got [$got], want [$want]"; fail=1; fi
}

# What the tool itself says it accepts (the error messages end in exit 64).
set +o pipefail
subcommands=$("$wslat" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}' | tr '\n' ' ')
options_of() { "$wslat" "$@" --help | grep -oE '^ +(-[a-zA-Z],)?--?[a-z][a-z-]*' | tr ',' ' ' | tr '\n' ' '; }
profiles=$("$wslat" validate a.json --env nope 2>&1 | sed -n 's/.*use one of: //p' |
  sed 's/ ([a-z]*)//g; s/,//g')
formats=$("$wslat" report a.json --format nope 2>&1 | sed -n 's/.*use one of //p' | sed 's/,//g')
history_formats=$("$wslat" history x --format nope 2>&1 | sed -n 's/.*use //p' | sed 's/ or / /')
modes=$("$wslat" serve --help | sed -n 's/.*--mode TEXT:{\(.*\)}.*/\1/p' | tr ',' ' ')
[[ -n $subcommands && -n $profiles && -n $formats && -n $history_formats && -n $modes ]] ||
  { echo "FAIL: could not read what wslat accepts from its --help and error messages"; exit 1; }
set -o pipefail

case $shell in
bash)
  [[ -f /usr/share/bash-completion/bash_completion ]] &&
    source /usr/share/bash-completion/bash_completion
  source "$work/script"
  expect "complete -p wslat" "$(complete -p wslat)" "complete -F _wslat wslat"
  comp() {
    COMP_WORDS=(wslat "$@") COMP_CWORD=$#
    COMP_LINE="wslat $*" COMP_POINT=${#COMP_LINE} COMPREPLY=()
    _wslat
    echo "${COMPREPLY[*]}"
  }
  expect "subcommands" "$(comp '')" "$subcommands"
  expect "global options" "$(comp -)" "$(options_of)"
  for c in $subcommands; do expect "$c options" "$(comp "$c" -)" "$(options_of "$c")"; done
  expect "--env names" "$(comp run --env '')" "$profiles"
  expect "validate --env names" "$(comp validate a.json --env '')" "$profiles"
  for c in run report merge; do expect "$c --format names" "$(comp "$c" --format '')" "$formats"; done
  expect "history --format names" "$(comp history -f '')" "$history_formats"
  expect "serve --mode names" "$(comp serve --mode '')" "$modes"
  expect "run SCENARIO: *.json and folders" "$(comp run --env local '')" "a.json sub"
  expect "validate SCENARIO in a folder" "$(comp validate sub/)" "sub/c.json"
  expect "report RESULT: any file" "$(comp report '')" "a.json b.txt sub"
  expect "compgen on a prefix" "$(compgen -W "$(comp r)" -- ru)" "run"
  ;;
zsh)
  # Loads without a word on stderr, then completes in an interactive zsh on a pseudo-terminal.
  mkdir "$work/fpath" && cp "$work/script" "$work/fpath/_wslat"
  errors=$(zsh -f -c "autoload -Uz compinit; compinit -u -D; source $work/script" 2>&1 >/dev/null)
  expect "loads without errors" "$errors" ""
  cat >"$work/complete.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "PS1='> '; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D; print READY-\$((6*7))"
zpty -r -m z out '*READY-42*' || exit 1
for line in 'wslat se' 'wslat run --en' 'wslat run --env prod' 'wslat history x --format ht'; do
  zpty -w -n z "$line"$'\t'
  zpty -w z $'\x01print -r -- RESULT:\x05; print DONE-$((6*7))'
  zpty -r -m z out '*DONE-42*' || exit 1
  print -r -- ${${(M)${(f)out}:#RESULT:*}%$'\r'}
done
zpty -d z
ZSH
  got=$(timeout 60 zsh -f "$work/complete.zsh" "$work/fpath" | sed 's/ *$//')
  expect "subcommand" "$(sed -n 1p <<<"$got")" "RESULT:wslat serve"
  expect "option" "$(sed -n 2p <<<"$got" | tr ' ' '_')" "RESULT:wslat_run_--env"
  expect "--env name" "$(sed -n 3p <<<"$got" | tr ' ' '_')" "RESULT:wslat_run_--env_production"
  expect "history --format name" "$(sed -n 4p <<<"$got" | tr ' ' '_')" \
    "RESULT:wslat_history_x_--format_html"
  ;;
fish)
  errors=$(fish --no-config -c "source $work/script" 2>&1)
  expect "loads without errors" "$errors" ""
  comp() { fish --no-config -c "source $work/script; complete -C '$1'" | cut -f1 | tr '\n' ' '; }
  expect "subcommands" "$(comp 'wslat ')" "$subcommands"
  expect "run options" "$(comp 'wslat run -')" "$(options_of run)"
  expect "--env names" "$(comp 'wslat run --env ')" "$profiles"
  expect "history --format names" "$(comp 'wslat history x --format ')" "$history_formats"
  expect "run SCENARIO: *.json and folders" "$(comp 'wslat run ')" "a.json sub/"
  ;;
*) echo "usage: $0 WSLAT bash|zsh|fish" >&2; exit 64 ;;
esac
exit $fail
