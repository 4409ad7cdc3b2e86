"""Columns that hold keyring-sealed tokens, and the re-encryption of all of them under the active
key (``interlink crypto rotate``). A domain that stores a sealed secret registers its column in
``interlink.sealing.columns`` so that rotation and ``crypto status`` cover it."""
