-- description: marts.stage_spell with the person's filter attributes (serving table for the Oversikt page).
-- not_null: person_id, stage, start_date, end_type
-- grain: person
select s.*, f.* exclude (person_id)
from marts.stage_spell s
inner join dash.person_filter f using (person_id)
