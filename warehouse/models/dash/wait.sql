-- description: marts.school_place_wait with the school's name and the person's filter attributes (serving table for the Ventetid page).
-- not_null: person_id, stage, applied_date, status
-- grain: person
select w.*, coalesce(s.school_name, w.school_orgnr, 'Trøndelagsmodellen') as school_name, f.* exclude (person_id)
from marts.school_place_wait w
inner join dash.person_filter f using (person_id)
left join reference.school s on w.school_orgnr = s.school_orgnr
