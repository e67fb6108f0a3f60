"""Where a .tflite file's time goes: time per op type, which ops XNNPACK takes, the slowest ops.

    PYTHONPATH=. python bench/tflite_profile.py FILE.tflite [FILE.tflite ...] [--threads 1]
        [--runs 20] [--top 10]

Each op is cut out of the file and timed alone (see keras_nasnet.tflite_profile); the whole
model's median time is printed above the table for comparison with the sum of its ops.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_nasnet.tflite_profile import profile  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", metavar="FILE.tflite")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=20, help="timed runs per op (median)")
    parser.add_argument("--top", type=int, default=10, help="list this many slowest ops")
    args = parser.parse_args(argv)
    for path in args.files:
        print(profile(path, threads=args.threads, runs=args.runs).table(top=args.top))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
