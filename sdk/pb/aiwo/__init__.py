"""Generated wire types of the aiwo API (package aiwo.v1); see proto/."""
