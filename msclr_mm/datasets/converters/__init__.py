"""Converters from what users have (NTU raw files, pose-estimator outputs) to annotation pickles.

Used by the scripts in ``tools/data/``; importable so that their logic is testable.
"""
