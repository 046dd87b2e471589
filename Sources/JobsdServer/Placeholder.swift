enum JobsdServerPlaceholder {}
