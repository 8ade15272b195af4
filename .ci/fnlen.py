#!/usr/bin/env python3
"""Functions longer than N lines in Rust files: from the line with `fn name` to the line
where the braces opened after it balance again (a rough count; strings/comments with
braces are rare enough here). Usage: fnlen.py N files..."""
import re, sys
limit = int(sys.argv[1])
fn_re = re.compile(r'^\s*(pub(\([^)]*\))?\s+)?(async\s+)?(const\s+)?(unsafe\s+)?fn\s+(\w+)')
out = []
for path in sys.argv[2:]:
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    i = 0
    while i < len(lines):
        m = fn_re.match(lines[i])
        if not m:
            i += 1; continue
        depth = 0; opened = False; j = i
        while j < len(lines):
            s = re.sub(r'"(\\.|[^"\\])*"', '""', lines[j])
            s = re.sub(r"'(\\.|[^'\\])'", "''", s)
            s = s.split('//')[0]
            for c in s:
                if c == '{': depth += 1; opened = True
                elif c == '}': depth -= 1
            if opened and depth <= 0: break
            if not opened and s.rstrip().endswith(';'): break
            j += 1
        n = j - i + 1
        if opened and n > limit:
            out.append((n, path, i + 1, m.group(6)))
        i += 1  # nested fns are counted too
for n, p, l, name in sorted(out, reverse=True):
    print(f"{n:5} {p}:{l} {name}")
print(f"# {len(out)} functions over {limit} lines", file=sys.stderr)
