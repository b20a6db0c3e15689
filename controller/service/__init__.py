"""The controller's endpoints (`cephdr.ctl.<area>.<verb>`), one module per area, on one router."""
