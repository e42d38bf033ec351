#!/usr/bin/env python3
"""Replaces the hex blocks that hsdis.c printed in a -XX:+PrintAssembly log with objdump's
disassembly (Intel syntax). Usage: disasm.py LOG > LOG.asm"""
import os
import re
import subprocess
import sys
import tempfile

text = open(sys.argv[1], errors='replace').read()
out = []
pos = 0
for m in re.finditer(r'HSDIS ([0-9a-f]+) (\d+)\n(.*?)\nHSDIS_END', text, re.S):
    out.append(text[pos:m.start()])
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(bytes.fromhex(m.group(3).replace('\n', '')))
    r = subprocess.run(['objdump', '-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel',
                        '--adjust-vma=0x' + m.group(1), f.name], capture_output=True, text=True)
    os.unlink(f.name)
    out.append('\n'.join(r.stdout.split('\n')[7:]))
    pos = m.end()
out.append(text[pos:])
sys.stdout.write(''.join(out))
