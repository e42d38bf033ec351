#!/usr/bin/env python3
"""For each C2 compilation in a disassembled log (disasm.py's output), the shortest loops that
contain KEY (default vpmullw, the kernels' multiplies): instructions per iteration, how many are
vector instructions, stack accesses and calls. A kernel's hot loop shows as the shortest one; a
loop with calls, or with few vector instructions, means C2 left vector operations boxed.
Usage: loops.py LOG.asm [KEY]"""
import re
import sys

text = open(sys.argv[1]).read()
key = sys.argv[2] if len(sys.argv) > 2 else 'vpmullw'
for part in text.split('Compiled method (c2)')[1:]:
    head = part.split('\n')[0].strip()
    ins = re.findall(r'^\s+([0-9a-f]+):\t(?:[0-9a-f]{2} )+\s*\t(.*)$', part, re.M)
    index = {int(a, 16): i for i, (a, _) in enumerate(ins)}
    loops = []
    for i, (_, t) in enumerate(ins):
        m = re.match(r'j\w+\s+0x([0-9a-f]+)', t)
        if m and int(m.group(1), 16) in index and index[int(m.group(1), 16)] < i:
            body = [x for _, x in ins[index[int(m.group(1), 16)]:i + 1]]
            if any(key in x for x in body):
                loops.append((len(body), sum(x.startswith('v') for x in body), sum('rsp' in x for x in body),
                              sum(x.startswith('call') for x in body)))
    loops.sort()
    print(head[:100], '| code', len(ins), '| loops (instructions, vector, stack, calls):', loops[:3])
