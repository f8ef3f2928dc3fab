//! One method name or several.

/// The names a handler is registered under: a `&str`, a `String`, or an
/// array, slice or `Vec` of names (the first is the method, the rest aliases).
pub trait MethodNames {
    /// The names, in order.
    fn into_names(self) -> Vec<Box<str>>;
}

impl MethodNames for &str {
    fn into_names(self) -> Vec<Box<str>> {
        vec![self.into()]
    }
}

impl MethodNames for String {
    fn into_names(self) -> Vec<Box<str>> {
        vec![self.into_boxed_str()]
    }
}

impl<const N: usize> MethodNames for [&str; N] {
    fn into_names(self) -> Vec<Box<str>> {
        self.iter().map(|&name| name.into()).collect()
    }
}

impl MethodNames for &[&str] {
    fn into_names(self) -> Vec<Box<str>> {
        self.iter().map(|&name| name.into()).collect()
    }
}

impl MethodNames for Vec<&str> {
    fn into_names(self) -> Vec<Box<str>> {
        self.as_slice().into_names()
    }
}
