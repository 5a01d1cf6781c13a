-- description: marts.dropout with the person's filter attributes (serving table for the Frafall page).
-- not_null: person_id, stage, dropout_date
-- grain: person
select d.*, f.* exclude (person_id)
from marts.dropout d
inner join dash.person_filter f using (person_id)
