"""Print a saved ``benchmark.py`` report (``--json-out``, e.g. gpu_suite's step.json) as a table.

The Markdown table ``benchmark.py`` prints before its JSON line (see
``benchmark.format_table``), for reports written earlier or on another machine.

Example:
    python tools/analysis/step_table.py work_dirs/gpu_suite/step.json
"""

import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from benchmark import format_table  # noqa: E402


def main(argv=None):
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('reports', nargs='+', help='benchmark.py --json-out files')
    args = parser.parse_args(argv)
    for path in args.reports:
        with open(path) as f:
            report = json.load(f)
        if 'variants' not in report:
            parser.error(f'{path}: not a benchmark.py report (no "variants")')
        head = ', '.join(str(report[k]) for k in ('config', 'gpu', 'torch') if k in report)
        print(f'{path}: {head}' + ('' if report.get('complete', True) else ' (incomplete)'))
        print(format_table(report))


if __name__ == '__main__':
    main()
