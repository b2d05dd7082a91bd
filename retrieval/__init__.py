"""What pipeline/, training/ and eval/ share about retrieval: the published dataset format and how it is read
(``retrieval.dataset``), loading an embedder (``retrieval.models``; ONNX graphs: ``retrieval.onnx_model``), the
device (``retrieval.device``), the user-facing errors (``retrieval.errors``), the one config mechanism (strict
sections, YAML, ``${VAR:-default}``, ``section.key=value`` overrides: ``retrieval.config``) and the one CLI wrapper
(``error: ...`` and exit status 2: ``retrieval.cli``). pipeline/, training/ and eval/ import from here; eval/ imports
nothing from training/.
"""
