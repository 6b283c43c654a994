"""Implementations of ``types.KernelAccess`` and ``types.NotebookAccess`` over jupyter_client
and nbformat: ``subshell`` (code in a kernel subshell; the server and the CLI use it) and
``notebooks`` (notebook files; nbformat validation shared with the server's contents manager).
Only these modules, ``server/`` and ``notebook/`` import jupyter_client or nbformat.
"""
