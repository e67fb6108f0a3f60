"""Runs `keras-nasnet search` (the arguments after STALL_FILE) as a worker whose first trial
never ends: it writes the trial's id to STALL_FILE and sleeps while its heartbeat goes on.

usage: stalled_worker.py STALL_FILE SEARCH_ARGUMENTS...
A worker killed in this state held its trial for certain; one killed while training a real
child may have ended it (the chief still answering its last call) just before the signal.
"""

import sys
import time

from keras_nasnet import cli
from keras_nasnet.search.child import NASTuner


def main():
    stall_file = sys.argv.pop(1)

    def stall(self, trial, *args, **kwargs):
        with open(stall_file, "w") as f:
            f.write(trial.trial_id)
        while True:
            time.sleep(60)

    NASTuner.run_trial = stall
    return cli.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
