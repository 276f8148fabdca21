#!/usr/bin/env bash
# buf breaking against a git ref, with the imported protos (which git does not
# hold: they come from Go modules into third_party/proto) supplied to both
# sides. The ref is $BUF_BREAKING_AGAINST, else origin/main or main when HEAD
# is not that commit, else HEAD~1.
set -euo pipefail
buf=${BUF:?BUF must name the buf binary}
ref=${BUF_BREAKING_AGAINST:-}
if [ -z "$ref" ]; then
	for r in origin/main main HEAD~1; do
		if git rev-parse -q --verify "$r^{commit}" >/dev/null && [ "$(git rev-parse "$r")" != "$(git rev-parse HEAD)" ]; then
			ref=$r
			break
		fi
	done
fi
if [ -z "$ref" ]; then
	echo "buf breaking: no earlier commit to compare with"
	exit 0
fi
if ! git cat-file -e "$ref:proto" 2>/dev/null; then
	echo "buf breaking: $ref has no protos yet"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$ref" proto buf.yaml | tar -x -C "$tmp"
cp -r third_party "$tmp/"
(cd "$tmp" && "$buf" build -o image.binpb)
echo "buf breaking against $ref ($(git rev-parse --short "$ref"))"
"$buf" build -o "$tmp/head.binpb"
"$buf" breaking "$tmp/head.binpb" --against "$tmp/image.binpb"
