"""Execute a notebook top to bottom with nbclient and save it with its outputs.

    python scripts/run_notebook.py notebooks/walkthrough.ipynb OUT.ipynb

Exits non-zero, naming the cell, when any cell fails. XRAY_RUN=DIR makes the
X-ray cells inspect that run instead of the notebook's quick run.
"""

import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

source, target = sys.argv[1], sys.argv[2]
notebook = nbformat.read(source, as_version=4)
client = NotebookClient(
    notebook,
    timeout=1800,
    kernel_name="python3",
    resources={"metadata": {"path": "notebooks"}},
)
start = time.time()
try:
    client.execute()
except CellExecutionError as err:
    nbformat.write(notebook, target)
    sys.exit(f"{source}: a cell failed (outputs so far in {target}):\n{err}")
nbformat.write(notebook, target)
print(f"executed {source} in {time.time() - start:.0f} s; wrote {target}")
