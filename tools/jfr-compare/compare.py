#!/usr/bin/env python3
"""Runs `panamax bench` under JFR for two builds, alternately, and prints where each spent its
samples: the only comparison that held up on the noisy development VM, where a build's tokens/s
moves 2x from one minute to the next. Kernels whose code did not change serve as the control:
their sample counts should match between the builds; a changed kernel's count, read against
them, says whether it got faster. (JFR attributes a C2-compiled kernel's samples to the first
inlined frame with debug information, e.g. Activations.q8_KPairs: each sample is keyed by its
top two frames, so the kernel shows as the caller.)

Usage: compare.py IMAGE_A IMAGE_B ROUNDS BENCH_ARGS...
  e.g. compare.py /tmp/old cli/target/panamax 2 -m model.gguf -p 0 -n 64 -r 3 -t 1
IMAGE is a jlink image (cli/target/panamax); it is run with the full JDK in JAVA_HOME (the image
leaves out jdk.jfr) and the image's own launcher options."""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def run(image, args, jfr):
    # a copy of the launcher whose runtime is the full JDK, next to the image's libraries
    home = tempfile.mkdtemp(prefix='jfr-compare-')
    try:
        os.makedirs(os.path.join(home, 'bin'))
        shutil.copy(os.path.join(image, 'bin', 'panamax'), os.path.join(home, 'bin', 'panamax'))
        os.symlink(os.environ['JAVA_HOME'], os.path.join(home, 'runtime'))
        for d in ('lib', 'models'):
            if os.path.exists(os.path.join(image, d)):
                os.symlink(os.path.abspath(os.path.join(image, d)), os.path.join(home, d))
        env = dict(os.environ)
        env['PANAMAX_JAVA_OPTS'] = (env.get('PANAMAX_JAVA_OPTS', '') +
                                    ' -XX:StartFlightRecording=filename=%s,settings=profile' % jfr)
        out = subprocess.run([os.path.join(home, 'bin', 'panamax'), 'bench'] + args, env=env,
                             capture_output=True, text=True).stdout
    finally:
        shutil.rmtree(home, ignore_errors=True)
    figures = ' '.join(m.group(1) + ' ' + m.group(2) for m in re.finditer(r'\| +([pt][pg]\d+) +\| +([\d.]+ ± [\d.]+)', out))
    events = json.loads(subprocess.run([os.path.join(os.environ['JAVA_HOME'], 'bin', 'jfr'), 'print', '--json',
                                        '--stack-depth', '2', '--events', 'jdk.ExecutionSample', jfr],
                                       capture_output=True, text=True).stdout)
    counts = collections.Counter()
    for e in events['recording']['events']:
        frames = e['values']['stackTrace']['frames']
        names = ['%s.%s' % (f['method']['type']['name'].split('/')[-1], f['method']['name']) for f in frames[:2]]
        counts[' <- '.join(names)] += 1
    return figures, counts


def main():
    if len(sys.argv) < 5 or 'JAVA_HOME' not in os.environ:
        sys.exit(__doc__)
    a, b, rounds, args = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            results = [run(img, args, os.path.join(tmp, '%d-%d.jfr' % (r, i))) for i, img in enumerate((a, b))]
            print('round %d: A %s | B %s' % (r + 1, results[0][0], results[1][0]))
            keys = [k for k, _ in (results[0][1] + results[1][1]).most_common(10)]
            for k in keys:
                print('  %7d %7d  %s' % (results[0][1][k], results[1][1][k], k))


if __name__ == '__main__':
    main()
