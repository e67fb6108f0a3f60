"""The main job (`keras-nasnet main-job`, `scripts/main.sh`): a search, its best cell trained as
the final model, and a comparison against NASNet-A's cell and a random one, all within one
wall-clock budget.

`plan` splits the budget from measured costs (pure: no TensorFlow), `measure` measures them,
`job` runs the three steps as planned. Importing this package imports neither.
"""
