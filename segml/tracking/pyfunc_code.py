"""The code MLflow runs to build the composite model (MLflow's "models from code").

:func:`segml.tracking.model.log_segml_model` hands this file's path to
``mlflow.pyfunc.log_model(python_model=...)``. MLflow copies it into the logged model and
executes it whenever the model is loaded: it creates an empty :class:`SegmlModel`, whose
``load_context`` then rebuilds the fitted scorer from the model's ``state`` artifact (data only:
:mod:`segml.scoring.state`). No Python object is pickled, so MLflow has nothing to warn about and
the model loads with ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` off.
"""

import mlflow

from segml.tracking.model import SegmlModel

mlflow.models.set_model(SegmlModel())
