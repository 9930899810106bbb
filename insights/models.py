# Program KPIs: daily rollups, member scores (RFM, churn risk) and the staff dashboard (see DESIGN.md).
