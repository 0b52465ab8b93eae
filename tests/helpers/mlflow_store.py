"""A local MLflow store for tests, its artifacts kept under the test's directory."""


def new_experiment(uri: str, artifacts) -> None:
    """The experiment ``sagan_tf`` in the store ``uri``, its artifacts in ``artifacts`` (MLflow's
    default is ``./mlruns`` in the working directory: for the tests, the checkout)."""
    from mlflow.tracking import MlflowClient

    MlflowClient(uri).create_experiment("sagan_tf", artifact_location=artifacts.as_uri())
