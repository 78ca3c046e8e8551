import json

from ..conftest import run_python


def test_bench_pipeline_tiny(tmp_path):
    proc = run_python(
        [
            'tools/analysis/bench_pipeline.py',
            '--samples',
            '5',
            '--reps',
            '1',
            '--cache-dir',
            str(tmp_path),
        ],
        timeout=300,
    )
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {'ours_ms_per_sample', 'stock_ms_per_sample', 'ratio'} <= set(result)
    assert result['ours_ms_per_sample'] > 0 and result['stock_ms_per_sample'] > 0
    assert (
        abs(result['ratio'] - result['stock_ms_per_sample'] / result['ours_ms_per_sample'])
        < 0.02 * result['ratio'] + 0.01
    )
    assert 'rep 0: ours' in proc.stdout
