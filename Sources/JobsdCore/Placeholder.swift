import JobsdStore
enum JobsdCorePlaceholder {}
