"""`recplat`: the command line (typer). Run `recplat --help`.

One module per command group beside this one; this module only assembles them.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Annotated

import typer
from recplat.cli.cluster import cluster_app
from recplat.cli.data import data_app
from recplat.cli.demo import demo_command
from recplat.cli.features import features_app
from recplat.cli.forecast import forecast_command, forecast_demand_command
from recplat.cli.models import models_app
from recplat.cli.propensity import export_app, score_command
from recplat.cli.quality import quality_app
from recplat.cli.runs import runs_app
from recplat.cli.serve import serve_command
from recplat.cli.train import train_command

app = typer.Typer(
    help="recplat: feature-store-backed recommendation platform.", no_args_is_help=True
)
app.add_typer(data_app, name="data")
app.add_typer(features_app, name="features")
app.add_typer(quality_app, name="quality")
app.command("train")(train_command)
app.command("forecast")(forecast_command)
app.command("forecast-demand")(forecast_demand_command)
app.command("score")(score_command)
app.add_typer(export_app, name="export")
app.add_typer(runs_app, name="runs")
app.add_typer(models_app, name="models")
app.add_typer(cluster_app, name="cluster")
app.command("serve")(serve_command)
app.command("demo")(demo_command)


def _quiet_logs(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("great_expectations", "feast", "ray", "matplotlib", "urllib3", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING if verbose else logging.ERROR)
    if not verbose:
        # Library deprecation chatter (ibis, Ray Data, Serve's pydantic) is not for users.
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        # Some libraries route warnings through logging (captureWarnings) with their own filters.
        logging.getLogger("py.warnings").setLevel(logging.ERROR)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show library logs.")] = False,
) -> None:
    """recplat: Feast features, Great Expectations gates, Ray Train models, Ray Serve ranking."""
    _quiet_logs(verbose)
