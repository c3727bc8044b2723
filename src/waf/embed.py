#!/usr/bin/env python3
"""embed.py IN OUT SYMBOL - writes a C file defining `const char SYMBOL[]`
with the bytes of IN, so moat needs no rule file at run time."""
import sys

src, out, sym = sys.argv[1:4]
data = open(src, "rb").read()
with open(out, "w") as f:
    f.write("/* generated from %s by src/waf/embed.py: do not edit */\n" % src.split("/")[-1])
    f.write("const char %s[] = {\n" % sym)
    for i in range(0, len(data), 16):
        f.write("    " + "".join("%d," % b for b in data[i:i + 16]) + "\n")
    f.write("    0};\n")
