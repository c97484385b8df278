"""The Qt layer: a thin window over the engine. Import only where Qt is wanted."""
