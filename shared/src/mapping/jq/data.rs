//! What jaq filters run on in mappings: the [`MappingData`] marker, the per-run [`RunData`]
//! (the lookup table and what `env` may expose) and the [`JqOptions`] a program is compiled with.

use std::collections::BTreeMap;

use jaq_core::DataT;
use jaq_core::data::HasLut;

use crate::mapping::jqval::JqVal;

/// What a mapping may see of the world.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JqOptions {
    /// The variables `$ENV` and `env` expose; empty by default (never the process environment).
    pub env_allow_list: BTreeMap<String, String>,
}

/// Marker for the data jaq filters run on in mappings.
pub struct MappingData;

/// What every run carries: the compiled lookup table and what `env` may expose.
#[derive(Clone)]
pub struct RunData<'a> {
    pub(super) lut: &'a jaq_core::Lut<MappingData>,
    /// The variables `env` and `$ENV` expose.
    pub env_allow_list: &'a BTreeMap<String, String>,
}

impl DataT for MappingData {
    type V<'a> = JqVal;
    type Data<'a> = RunData<'a>;
}

impl<'a> HasLut<'a, MappingData> for RunData<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<MappingData> {
        self.lut
    }
}
