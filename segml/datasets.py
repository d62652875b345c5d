"""Public datasets: the seeded synthetic generator with ground-truth segments.

Example
-------
>>> from segml.datasets import make_customers
>>> data = make_customers(100, seed=0)
>>> list(data.ground_truth.columns[:3])
['customer_id', 'true_macro', 'true_leaf']
"""

from segml.data.synthetic import SyntheticData, make_customers

__all__ = ["SyntheticData", "make_customers"]
