"""MLflow "models from code" entry point for the model contract.

MLflow copies this file into each logged model and runs it at load time, so no pickled Python
object is stored (the pipeline itself is stored with skops). Do not import it elsewhere.
"""

from mlflow.models import set_model

from models.contract.pyfunc import CreditRiskModel

set_model(CreditRiskModel())
