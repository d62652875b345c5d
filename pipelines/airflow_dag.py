"""Example Airflow DAG: weekly gated retraining, then batch scoring with the (possibly new) champion.

Copy into your Airflow ``dags/`` folder and adjust the paths. Requires apache-airflow (not a segml
dependency). Exit code 3 of the retrain ("challenger not promoted") is a normal outcome, so the
retrain task treats it as success:... here mapped to success by the shell.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

SEGML = "/srv/segml"
VENV = f"{SEGML}/.venv/bin"
DATA = "/srv/extracts/{{ ds }}"

with DAG(
    dag_id="segml_weekly_retrain",
    schedule="15 3 * * 1",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # the retrain lock guards this too
    tags=["segml"],
) as dag:
    validate = BashOperator(
        task_id="validate",
        bash_command=f"{VENV}/segml validate --config {SEGML}/configs/production.yaml --data {DATA}",
    )
    retrain = BashOperator(
        task_id="retrain",
        # 0 promoted / already done, 3 champion kept: both fine for the schedule.
        bash_command=(
            f"cd {SEGML} && {VENV}/python pipelines/retrain.py "
            f"--config configs/production.yaml --data {DATA} --cutoff {{{{ ds }}}}; "
            "rc=$?; [ $rc -eq 0 ] || [ $rc -eq 3 ]"
        ),
    )
    score = BashOperator(
        task_id="score",
        bash_command=(
            f"{VENV}/segml score --model models:/segml-customer@champion --data {DATA} "
            f"--out {SEGML}/scores/{{{{ ds }}}}.parquet"
        ),
    )
    validate >> retrain >> score
