"""Modal dialogs (``ModalScreen``) shared by the screens."""
