"""Front end: YAML text -> typed Spec."""
