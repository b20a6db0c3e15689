"""Adapters over librados / librbd / libcephfs and the mirror daemons' admin sockets.

The only package that imports the Ceph bindings. Every blocking call runs through
`executor.CephExecutor` with a deadline; errors leave as the `schemas.errors` tree (`errmap`).
"""
