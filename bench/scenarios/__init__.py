"""The pipeline benchmark's scenarios, one module each, run by ``python -m bench`` in the order it lists.

Each module has ``run(bench: harness.Bench)``, a generator that runs the scenario
and yields its report section(s) as they are measured. Django and the project are
imported inside the functions: these modules are imported before the environment
is set and Django is set up.
"""
