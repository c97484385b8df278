"""The window's docks, one module each; every dock binds to the editor state."""
