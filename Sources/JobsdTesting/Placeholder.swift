enum JobsdTestingPlaceholder {}
