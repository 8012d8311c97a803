"""`yamlnet lsp`: a language server over stdio for model specs (diagnostics as you type, each row's channels,
stride and size as inlay hints, hovers, go to definition, the catalog's fixes as code actions, completion).
pygls and lsprotocol are an optional extra (`pip install 'yamlnet[lsp]'`); the analysis itself (`facts`) needs
neither."""
