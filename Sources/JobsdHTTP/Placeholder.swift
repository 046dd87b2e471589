enum JobsdHTTPPlaceholder {}
