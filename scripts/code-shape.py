#!/usr/bin/env python3
"""The shape limits of issue 13: files over 600 lines of code (before their test
module; the generated schema excepted) and web handlers over 40 lines."""
import pathlib, re, sys

root = pathlib.Path(__file__).resolve().parent.parent / "src"
bad = 0
for path in sorted(root.rglob("*.rs")):
    text = path.read_text(encoding="utf-8").split("\n#[cfg(test)]")[0]
    lines = text.count("\n")
    if lines > 600 and path.name != "schema.rs":
        print(f"file {path.relative_to(root)}: {lines} lines")
        bad += 1
    if "web" in path.parts:
        src = text.split("\n")
        for i, line in enumerate(src):
            if re.match(r"^pub async fn \w+", line):
                j = i
                while j < len(src) and src[j] != "}":
                    j += 1
                if j - i + 1 > 40:
                    name = re.match(r"^pub async fn (\w+)", line).group(1)
                    print(f"handler {path.relative_to(root)}::{name}: {j - i + 1} lines")
                    bad += 1
sys.exit(1 if bad else 0)
