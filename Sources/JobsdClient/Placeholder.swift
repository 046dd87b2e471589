import CCurl
enum JobsdClientPlaceholder {}
