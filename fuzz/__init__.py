"""Coverage-guided fuzz targets: hostile bytes into every parser that reads what a user or a network sends.

Where it sits: beside `tests/` and `bench/`, not shipped. `contracts` holds one check per target
(bytes in; a value or the project's own errors and problems out, never another exception);
`fuzz_<target>.py` runs one of them under atheris (`make fuzz`), and
`tests/test_fuzz_findings_stay_fixed.py` replays the seed corpora (`corpus/<target>/`) and every
input a run once crashed on (`regressions/<target>/`) through the same checks, without atheris.
"""
