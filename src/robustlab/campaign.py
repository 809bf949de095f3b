"""``python -m robustlab.campaign``: the command line of the campaign, :mod:`robustlab.ops.campaign`
(kept at this name so the documented commands keep working)."""
import sys

from robustlab.ops.campaign import main

if __name__ == "__main__":
    sys.exit(main())
