#!/usr/bin/env python3
"""embed.py OUT FILE... - writes a C file with the bytes of each template
file (templates/ at the top of the repository) as moat__portal_builtin[],
so moat needs no template folder at run time; [portal] templates overrides
any of them by name."""
import os
import sys

out, files = sys.argv[1], sys.argv[2:]
with open(out, "w") as f:
    f.write("/* generated from templates/ by src/auth/portal/embed.py: do not edit */\n")
    f.write("#include <stddef.h>\n\n")
    names = []
    for i, path in enumerate(files):
        data = open(path, "rb").read()
        f.write("static const char t%d[] =\n" % i)
        for line in data.splitlines(keepends=True) or [b""]:
            esc = "".join(chr(b) if 0x20 <= b < 0x7f and chr(b) not in '\\"?' else "\\%03o" % b
                          for b in line)
            f.write('    "%s"\n' % esc)
        f.write("    ;\n")
        names.append(os.path.basename(path))
    f.write("const struct moat__portal_file {\n    const char *name, *text;\n} "
            "moat__portal_builtin[] = {\n")
    for i, n in enumerate(names):
        f.write('    {"%s", t%d},\n' % (n, i))
    f.write("};\nconst size_t moat__portal_nbuiltin = %d;\n" % len(names))
