"""The app's Qt-free core: the editor state, the requests, the worker and its lane.

Nothing here imports Qt (a test checks it). The Qt layer (mae_desktop.app) binds widgets to
EditorState and carries lane results to the GUI thread with a thin bridge.
"""
