#!/usr/bin/env bash
# wslat(1) as built: renders without a warning, and documents every subcommand of --help with
# every option and positional argument its --help lists, in the subcommand's own section.
# Usage: check_manpage.sh WSLAT MANPAGE (wslat.1 or wslat.1.gz)
set -euo pipefail
wslat=$1 page=$2
command -v man >/dev/null || { echo "SKIP: man is not installed (apt-get install man-db)"; exit 77; }
fail=0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Fresh: the page the build made is the one the binary makes now.
if [[ $page == *.gz ]]; then gzip -dc "$page" >"$work/built.1"; else cp "$page" "$work/built.1"; fi
"$wslat" manpage >"$work/now.1"
cmp -s "$work/built.1" "$work/now.1" || { echo "FAIL: $page is not what 'wslat manpage' prints"; fail=1; }

MANWIDTH=80 man --warnings -l "$page" >"$work/text" 2>"$work/warnings" || true
groff -man -Tutf8 -ww "$work/built.1" >/dev/null 2>>"$work/warnings"
if [[ -s $work/warnings ]]; then
  echo "FAIL: man/groff warnings:"; cat "$work/warnings"; fail=1
else
  echo "ok: renders without warnings"
fi
[[ -s $work/text ]] || { echo "FAIL: man rendered nothing"; exit 1; }

# section NAME: the lines of the COMMANDS subsection "wslat NAME", up to the next heading.
section() {
  awk -v h="   wslat $1" '$0 == h {on = 1; next} on && /^(   )?[A-Za-z]/ {exit} on' "$work/text"
}
subcommands=$("$wslat" --help | sed -n '/^Subcommands:/,$p' | awk 'NR > 1 && NF {print $1}')
for c in $subcommands; do
  text=$(section "$c")
  [[ -n $text ]] || { echo "FAIL: no section 'wslat $c'"; fail=1; continue; }
  missing=""
  # Options (-h, --help) and positionals (lower-case in --help, upper-case in the page).
  for o in $("$wslat" "$c" --help | grep -oE '^ +(-[a-zA-Z],)?--?[a-z][a-z-]*' | tr ',' ' '); do
    grep -qE -- "(^|[ ,])$o( |,|$)" <<<"$text" || missing+=" $o"
  done
  for p in $("$wslat" "$c" --help | sed -n '/^Positionals:/,/^$/p' | awk 'NR > 1 && NF {print $1}'); do
    grep -qw -- "${p^^}" <<<"$text" || missing+=" ${p^^}"
  done
  if [[ -n $missing ]]; then echo "FAIL: wslat $c: not in its section:$missing"; fail=1; else echo "ok: wslat $c"; fi
done
for o in --help --version; do
  grep -q -- "$o" <<<"$(sed -n '/^OPTIONS/,/^COMMANDS/p' "$work/text")" || { echo "FAIL: $o"; fail=1; }
done
exit $fail
