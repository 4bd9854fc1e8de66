//! Placeholder: the browser bindings land with the playground issue.
