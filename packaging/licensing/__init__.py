"""What the Linux app bundles and under which licences: the parts of
packaging/licenses.py, which writes the copyright file from them."""
