"""What pipeline/, training/ and eval/ share about retrieval: the published dataset format and how it is read
(``retrieval.dataset``), loading an embedder (``retrieval.models``; ONNX graphs: ``retrieval.onnx_model``), the
device (``retrieval.device``) and the user-facing errors (``retrieval.errors``). training/ and eval/ both import
from here; eval/ imports nothing from training/.
"""
